"""The engine at a glance: build an expression, backpropagate, print every gradient."""

from autograd import Value, gradcheck

a, b = Value(2.0, label="a"), Value(-3.0, label="b")
c = a * b + a.exp()
d = c.tanh()
d.backward()
for v in (a, b, c, d):
    print(f"{v.label or v.op:>5}  data={v.data:+.6f}  grad={v.grad:+.6f}")
print("gradcheck:", gradcheck(lambda a, b: (a * b + a.exp()).tanh(), [2.0, -3.0]))
