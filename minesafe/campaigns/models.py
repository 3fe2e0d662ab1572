"""Special campaigns (专项整治) run through the inspections machinery, and publicity and education events (task 28)."""
