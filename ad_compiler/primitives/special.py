"""Special functions (the rows are added one by one)."""
