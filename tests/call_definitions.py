"""Call-activity definitions that the engine, runtime and HTTP tests share."""

# A call that does not wait for its child: the caller moves on at once.
FIRE_AND_FORGET = """
name: fire
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: child, async: true}
  - {id: done, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: done}
"""

# Calls itself (the latest build: a build may not call itself otherwise) until the depth
# limit refuses a child.
RECURSE = """
name: recurse
nodes:
  - {id: begin, type: start}
  - {id: again, type: callActivity, calledElement: recurse, binding: latest}
  - {id: done, type: end}
flows:
  - {from: begin, to: again}
  - {from: again, to: done}
"""
