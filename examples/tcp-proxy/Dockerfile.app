# The tutorial's Flask image.
FROM python:3.11-slim
WORKDIR /app
COPY app.py .
RUN pip install --no-cache-dir flask
ENV HOST=0.0.0.0 PORT=5000
EXPOSE 5000
CMD ["python", "app.py"]
