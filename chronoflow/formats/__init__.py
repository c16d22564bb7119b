"""Date formats over Django's (FORMAT_MODULE_PATH): every time an operator reads carries its
seconds and its zone ("02/12/2026 08:00:05 -03"), in whatever zone is active for them."""
