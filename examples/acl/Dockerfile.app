# One image for both Flask apps: APP selects app1.py or app2.py.
FROM python:3.11-slim
WORKDIR /app
COPY app1.py app2.py ./
RUN pip install --no-cache-dir Flask
ENV HOST=0.0.0.0 APP=app1.py
CMD ["sh", "-c", "exec python \"$APP\""]
