from tfselect.cli import app

app()
