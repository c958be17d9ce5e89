"""The group labels every layer shares: the comparison group's key in unit frames and levels
(a district's rows carry the district's key).
"""

__all__ = ["COMPARISON"]

COMPARISON = "comparison"  # the rest of the municipality: areas outside every district
