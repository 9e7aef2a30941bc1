"""HTML pages of the catalog: the storefront, the vendor console and the listing review."""
