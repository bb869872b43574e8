"""A partner simulator for development and tests: bank, guarantee firm, fund and registration office in one service."""
