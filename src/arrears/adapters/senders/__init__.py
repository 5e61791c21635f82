"""Message providers behind ``services.messaging.Sender``: SMTP e-mail, a generic signed
HTTP SMS gateway, and Alibaba Cloud SMS (RPC-signed SendSms)."""
