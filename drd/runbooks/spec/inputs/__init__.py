"""The typed inputs of every step type, one frozen model per type, grouped by the system the type talks to.

Field names are snake_case in Python and camelCase in ``with:``, as in policy
documents. The engine validates a step's rendered ``with`` against its model
before running it; lint validates the parts that hold no expression at load.
"""
