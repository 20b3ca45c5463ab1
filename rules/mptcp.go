package rules

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// mptcpFacts are the facts of Addr that MPTCP events change.
var mptcpFacts = map[string]bool{"subflows": true, "subflows_failed": true}

// readsMPTCP reports whether prog may read an MPTCP fact. It walks the
// typed tree that expr compiled: a member access of an MPTCP fact on an
// Addr is a read, and so, to be safe, is any Env or Addr value used whole
// (toJSON(addr), let a = addr) rather than through one of its members.
func readsMPTCP(prog *vm.Program) bool {
	v := mptcpFinder{consumed: map[ast.Node]bool{}}
	node := prog.Node()
	ast.Walk(&node, &v)
	if v.reads {
		return true
	}

	for _, n := range v.whole {
		if !v.consumed[n] {
			return true
		}
	}

	return false
}

var (
	envType  = reflect.TypeFor[Env]()
	addrType = reflect.TypeFor[Addr]()
)

// mptcpFinder is the ast.Visitor of readsMPTCP.
type mptcpFinder struct {
	reads bool
	// whole are the nodes whose value is an Env or an Addr; consumed
	// those of them that a member access reads a non-MPTCP fact of.
	whole    []ast.Node
	consumed map[ast.Node]bool
}

// Visit implements ast.Visitor.
func (f *mptcpFinder) Visit(node *ast.Node) {
	if t := typeOf(*node); t == envType || t == addrType {
		f.whole = append(f.whole, *node)
	}

	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Node == nil {
		return
	}
	t := typeOf(m.Node)
	if t != envType && t != addrType {
		return
	}

	name, ok := m.Property.(*ast.StringNode)
	switch {
	case !ok:
		// A computed member name could be any fact.
	case t == addrType && mptcpFacts[name.Value]:
		f.reads = true
	default:
		f.consumed[m.Node] = true
	}
}

// typeOf is the type of n's value. expr types the $env variable as any,
// though it is the whole Env.
func typeOf(n ast.Node) reflect.Type {
	if id, ok := n.(*ast.IdentifierNode); ok && id.Value == "$env" {
		return envType
	}

	return n.Type()
}
