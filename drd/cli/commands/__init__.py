"""Command groups. Each module exposes ``register(subparsers, parents)`` and imports only argparse at top level."""
