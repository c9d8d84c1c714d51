"""Trainers of the three models (`deeperfour train colorizer|stabilizer|cartoonizer`): one loop (loop.py), shared
checkpoints and logging (common.py), data (data.py) and the shipped configs (configs/)."""
