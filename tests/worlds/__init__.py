"""Test worlds: independently generated municipalities used only by the tests.

Each world is written from the published input contract (``docs/input-contract.md``), not from
the project's own synthetic generator, so that its blind spots differ from the generator's.
"""
