FROM python:3.11-slim
WORKDIR /app
COPY app.py .
RUN pip install --no-cache-dir Flask SQLAlchemy pymysql
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["python", "app.py"]
