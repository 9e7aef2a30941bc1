"""Moving money: card payments and refunds through Stripe, bank transfers recorded by the
operator, and Stripe's signed events. Our billing engine computes every amount; Stripe
only moves it. What a payment does to its invoice is billing/invoice_money.py's."""
