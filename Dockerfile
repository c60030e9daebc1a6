# One image, several roles (web, worker, beat, migrate): see docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Tesseract reads scanned PDFs and images (workers/extract/ocr.py); more languages are
# Debian's tesseract-ocr-<lang> packages (the organization's "ocr_language" setting).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home --uid 10001 pmdi && chown -R pmdi /app
USER pmdi
EXPOSE 8000
# Threaded workers with a deadline on request headers: see webapp/gunicorn_conf.py.
CMD ["gunicorn", "--config", "python:webapp.gunicorn_conf", "--bind", "0.0.0.0:8000", "wsgi:app"]
