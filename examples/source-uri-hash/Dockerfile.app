# The tutorial's Dockerfile.app1/.app2/.app3 in one: APP_NUMBER selects the app.
FROM python:3.11-slim
WORKDIR /app
COPY app.py .
RUN pip install --no-cache-dir Flask
ENV HOST=0.0.0.0
CMD ["python", "app.py"]
