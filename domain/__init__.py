"""Kuayue's pure deal model: value objects, commands, events and the decider.

Nothing here performs I/O, reads a clock or draws random numbers, so every function is safe inside
Temporal's workflow sandbox and gives the same answer in a replay years later.
"""
