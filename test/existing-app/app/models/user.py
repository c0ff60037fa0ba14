"""The users table the seed's `sessions.user_id` references: only what the seed relies on."""
from sqlalchemy import Column, DateTime, Integer, String
from sqlalchemy.orm import relationship
from sqlalchemy.sql import func

from app.core.database import Base


class User(Base):
    """An account of the existing application."""

    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String, nullable=False, unique=True)
    name = Column(String, nullable=True)
    created_at = Column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    # The seed declares `relationship("User", back_populates="sessions")`: this is the other end.
    sessions = relationship("Session", back_populates="user")
