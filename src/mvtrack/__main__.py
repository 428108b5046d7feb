from mvtrack.cli import app

app()
