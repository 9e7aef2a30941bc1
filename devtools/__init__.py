"""Tools for the demo and for development, outside the domain packages.

``devtools.demo`` loads the demo data and runs ``marketplace demo``; ``devtools.localstripe``
runs a local Stripe-compatible server for the demo and the tests. marketplace/, catalog/,
billing/ and vouchers/ never import this package, except the app factory, which calls
``devtools.demo.register`` (tests/test_layering.py checks it).
"""
