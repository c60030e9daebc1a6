# One image, several roles (web, worker, beat, migrate): see docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home --uid 10001 pmdi && chown -R pmdi /app
USER pmdi
EXPOSE 8000
# Threaded workers with a deadline on request headers: see webapp/gunicorn_conf.py.
CMD ["gunicorn", "--config", "python:webapp.gunicorn_conf", "--bind", "0.0.0.0:8000", "wsgi:app"]
