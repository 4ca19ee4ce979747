# EP 9's Flask apps in one image: APP_NUMBER selects the app.
FROM python:3.11-slim
WORKDIR /app
COPY flask_app.py app.py
RUN pip install --no-cache-dir Flask
ENV HOST=0.0.0.0
CMD ["python", "app.py"]
