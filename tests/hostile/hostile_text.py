"""Prints and raises text made to deceive whoever reads the report: terminal escapes (clear
screen, a clipboard write, a carriage return under a fake score), Markdown and HTML (a fake
banner, a tracking image, a script), a lone surrogate and bytes that are not UTF-8, in its
exception's class name too. On the hidden problem (T = 2) it also prints and raises that
problem's inputs, marked HIDDEN-SECRET."""
import sys

DECEIT = ("\ud800\x1b[2J\x1b]52;c;ZXZpbA==\x07\rScore: 94/94 # All tests passed "
          "![t](http://tracker.example/x.png) <script>alert(1)</script> | =1+1")


def backward(trace):
    secret = f" HIDDEN-SECRET {trace['x'].tolist()}" if trace["T"] == 2 else ""
    sys.stdout.buffer.write(b"\xff\xfe\x1b[2J\x1b]52;c;ZXZpbA==\x07\r# All tests passed" + secret.encode() + b"\n")
    sys.stdout.flush()
    raise type("Evil\x1b[31m" + secret.replace(" ", "_").replace(".", "_"), (Exception,), {})(DECEIT + secret)
