"""What a deploy ships: the commits between the running and the requested version."""
