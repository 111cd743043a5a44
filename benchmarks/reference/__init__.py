"""microgpt's scalar ``Value``, B5's yardstick, kept in its author's style (ruff skips this folder)."""
