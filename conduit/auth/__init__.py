"""Who the caller is and what a scope allows: API tokens, the scope vocabulary, bearer lookup (API
tokens and the access tokens apps are issued), and the hashed random credentials both use."""
