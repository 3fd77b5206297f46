"""Browser code of the interactive view (ES modules loaded by anywidget; shipped as package data)."""
