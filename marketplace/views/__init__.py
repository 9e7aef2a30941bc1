"""HTML pages of the platform: the site frame, accounts and organizations, the console."""
