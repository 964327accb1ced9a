"""The web dashboard: static HTML, CSS and JavaScript served by `mist serve` (no build step)."""
