"""The tenants table the seed's `sessions.tenant_id` references."""
from sqlalchemy import Column, DateTime, Integer, String
from sqlalchemy.sql import func

from app.core.database import Base


class Tenant(Base):
    """A tenant of the existing application. No `sessions` here: the seed adds it as a backref."""

    __tablename__ = "tenants"

    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)
    created_at = Column(DateTime(timezone=True), server_default=func.now(), nullable=False)
