"""MineSafe: regulatory platform for non-coal mine safety."""
