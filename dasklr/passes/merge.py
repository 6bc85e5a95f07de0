"""How partials merge: plain addition, left to right, so the same inputs always
give the same bits whatever the tree.
"""


def merge_sums(*parts):
    """Add partial sums left to right, so the same inputs always give the same bits."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
