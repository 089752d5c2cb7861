"""SQLite: one module per aggregate; the Store facade (store/facade.py) combines them."""
