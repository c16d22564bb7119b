FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --uid 1000 chronoflow && mkdir -p /data && chown chronoflow /data
USER chronoflow
EXPOSE 8000
CMD ["gunicorn", "chronoflow.wsgi", "-b", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "8"]
