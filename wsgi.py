"""The service as a WSGI application: `gunicorn wsgi:app`, `flask --app wsgi run`."""

from dotenv import load_dotenv

from api import create_app

load_dotenv()
app = create_app()
