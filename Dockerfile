FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home orc && mkdir -p /data && chown orc /data
USER orc
ENV ORC_DATA_DIR=/data
EXPOSE 8080
CMD ["orc", "up", "--host", "0.0.0.0", "--port", "8080"]
