"""Seed apps instrumented with fastprom: flask_app (seed 004) and
fastapi_app (seed 003). See README.md beside this file."""
