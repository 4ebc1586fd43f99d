"""Neural-network building blocks shared by method plugins (kept here so each exists once)."""
