"""Outcome-based billing (效果付费, DESIGN.md section 4): the baseline both sides agree,
results the vendor reports with evidence, the buyer's confirmation or dispute within the
verification window (silence confirms at its end), and the operator's resolution. Only
confirmed results are invoiced, with the plan's formula (catalog/pricing.py).

The package, by noun (the rules first, then what the web and the API show of them):

- ``models``: the tables (baseline proposals, outcome reports) and their statuses.
- ``baselines``: proposing and accepting the baseline; acceptance starts the contract.
- ``reporting``: the vendor's report of one ended billing period, once per period.
- ``verification``: the buyer confirms or disputes, silence confirms, the operator resolves.
- ``invoicing``: the charge of a result (the plan's formula), its invoice lines, and the
  invoicing of confirmed results by the billing run.
- ``corrections``: credit notes (or supplementary invoices) for invoiced results found wrong.
- ``evidence``: evidence files, checked by content and stored privately.
- ``common``: what the rules share (audit records, value checks and formatting).
- ``chart``: the contract's chart (baseline, measured values, charges) as SVG geometry.
- ``contract_page``: what the contract page shows of an outcome contract (report rows).
- ``views``: the pages' routes on the ``billing`` blueprint (registered by billing.views).
- ``api``: the JSON API's ``outcome_api`` blueprint.
"""
