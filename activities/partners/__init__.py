"""Calls to partners (banks, guarantee firms, funds, the registration office) and their answer deadlines."""
