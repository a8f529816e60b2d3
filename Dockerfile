# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ENGAGE_INSTANCE_PATH=/app/instance
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engage ./engage
COPY workers ./workers
COPY emails ./emails
RUN pip install --no-cache-dir . && useradd --create-home engage && mkdir -p /app/instance \
    && chown engage /app/instance
USER engage
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "engage:create_app()"]
