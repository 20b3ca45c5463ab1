package rules

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// exprOptions are the options every `when` is compiled with: the typed Env,
// a boolean result, no `any` typed sub-expression, and our functions.
var exprOptions = []expr.Option{
	expr.Env(Env{}),
	expr.AsBool(),
	expr.WarnOnAny(),
	expr.Function("inCIDR", inCIDR, new(func(string, string) bool)),
	expr.Function("hasUplink", hasUplink, hasUplinkType),
	expr.Patch(uplinkPatcher{}),
}

// inCIDR reports whether ip is inside the prefix cidr. An ip that does not
// parse (route.gateway is "" without a gateway) is inside nothing; a cidr
// that does not parse is an error, caught at load time when it is a
// literal.
func inCIDR(params ...any) (any, error) {
	ip, cidr := params[0].(string), params[1].(string)
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false, fmt.Errorf("inCIDR: %w", err)
	}

	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil
	}

	return p.Contains(a.Unmap()), nil
}

// compileWhen compiles one `when` expression. Each error is an expr
// *file.Error when expr or a literal check knows the position.
func compileWhen(src string) (*vm.Program, []error) {
	prog, err := expr.Compile(src, exprOptions...)
	if err != nil {
		return nil, []error{err}
	}

	v := literalChecker{src: file.NewSource(src)}
	node := prog.Node()
	ast.Walk(&node, &v)
	if len(v.errs) > 0 {
		return nil, v.errs
	}

	return prog, nil
}

// literalChecker finds function calls whose literal arguments are already
// known to be wrong, so that a typo in a CIDR is a load error with its
// position rather than an error at every evaluation.
type literalChecker struct {
	src  file.Source
	errs []error
}

// Visit implements ast.Visitor.
func (c *literalChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}

	callee, ok := call.Callee.(*ast.IdentifierNode)
	if ok && callee.Value == "hasUplink" {
		c.checkHasUplink(call)
	}
	if !ok || callee.Value != "inCIDR" || len(call.Arguments) != 2 {
		return
	}

	if s, ok := call.Arguments[0].(*ast.StringNode); ok {
		if _, err := netip.ParseAddr(s.Value); err != nil {
			c.fail(s, fmt.Sprintf("inCIDR: bad IP address %q", s.Value))
		}
	}
	if s, ok := call.Arguments[1].(*ast.StringNode); ok {
		if _, err := netip.ParsePrefix(s.Value); err != nil {
			c.fail(s, fmt.Sprintf("inCIDR: bad CIDR prefix %q", s.Value))
		}
	}
}

func (c *literalChecker) fail(n ast.Node, msg string) {
	e := &file.Error{Location: n.Location(), Message: msg}
	c.errs = append(c.errs, e.Bind(c.src))
}

// whenMessage formats a compile error of `when` with its 1-based place in
// the expression and expr's excerpt.
func whenMessage(err error) string {
	var fe *file.Error
	if !errors.As(err, &fe) || fe.Snippet == "" {
		return err.Error()
	}

	return fmt.Sprintf("line %d, column %d: %s%s",
		fe.Line, fe.Column+1, fe.Message, fe.Snippet)
}
