FROM python:3.11-slim-bookworm

# Pango for WeasyPrint; libharfbuzz-subset0 makes each PDF ~7x cheaper; fonts with every glyph (Zoë, Łukasz, Søren).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-noto-core gettext \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && DEBUG=false SECRET_KEY=compilemessages-only python manage.py compilemessages -v0

RUN useradd --create-home amends && mkdir -p /app/var/media && chown -R amends /app/var
USER amends
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.py"]
