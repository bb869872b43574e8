"""The auditor's tools (issue 6): keep and load histories, replay and re-derive, state at a moment, verify, export.

Read-only over the archive, except `histories.keep_history` (writes `deal_histories`) and `export` (writes files).
"""
