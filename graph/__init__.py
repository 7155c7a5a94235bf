"""The IC|TC pipeline as a LangGraph state machine: state, runtime context, builder, and run entry points."""
