package rules

import (
	"fmt"
	"slices"

	"github.com/expr-lang/expr/ast"
)

// hasUplink is the function behind `hasUplink(family, types...)`. The
// expression names only the family and the types; uplinkPatcher adds the
// host's uplinks and the address's own link in front at compile time, so
// that the function needs no access to the Env.
//
// It reports whether a usable uplink other than the address's own link
// exists of the family (4 or 6; 0 for either) whose type is one of types,
// or of any type when none is given.
func hasUplink(params ...any) (any, error) {
	ups, self := params[0].([]Uplink), params[1].(string)
	family := params[2].(int)
	var types []string
	for _, p := range params[3:] {
		types = append(types, p.(string))
	}

	for _, u := range ups {
		switch {
		case u.Name == self:
		case family != 0 && u.Family != family:
		case len(types) > 0 && !slices.Contains(types, u.Type):
		default:
			return true, nil
		}
	}

	return false, nil
}

// hasUplinkType is the type checked on the patched call.
var hasUplinkType = new(func([]Uplink, string, int, ...string) bool)

// uplinkPatcher rewrites hasUplink(family, types...) into
// hasUplink(host.uplinks, link.name, family, types...).
type uplinkPatcher struct{}

// Visit implements ast.Visitor.
func (uplinkPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}

	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != "hasUplink" {
		return
	}

	member := func(obj, field string) ast.Node {
		n := &ast.MemberNode{Node: &ast.IdentifierNode{Value: obj},
			Property: &ast.StringNode{Value: field}}
		n.SetLocation(call.Location())

		return n
	}
	args := []ast.Node{member("host", "uplinks"), member("link", "name")}
	call.Arguments = append(args, call.Arguments...)
}

// checkHasUplink checks the literal family and types of a patched
// hasUplink call.
func (c *literalChecker) checkHasUplink(call *ast.CallNode) {
	if len(call.Arguments) < 3 {
		return
	}

	if n, ok := call.Arguments[2].(*ast.IntegerNode); ok &&
		n.Value != 0 && n.Value != 4 && n.Value != 6 {
		c.fail(n, fmt.Sprintf("hasUplink: family %d, want 4, 6 or 0",
			n.Value))
	}
	for _, a := range call.Arguments[3:] {
		s, ok := a.(*ast.StringNode)
		if ok && !slices.Contains(Types, s.Value) {
			c.fail(s, fmt.Sprintf("hasUplink: unknown type %q", s.Value))
		}
	}
}
