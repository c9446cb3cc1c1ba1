"""What HTTP and the CLI both call: seekers/offers pool, trainings and basins, kits, batch, the served state."""
