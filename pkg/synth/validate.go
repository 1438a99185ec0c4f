package synth

import (
	"fmt"
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNetworkPolicy applies the rules of Kubernetes' NetworkPolicy
// validation that generated policies can break: names, label selectors,
// ports and port ranges, ipBlocks and policy types. (The API server's own
// validation package lives in k8s.io/kubernetes, which cannot be a module
// dependency without replacing its staging tree, so the rules are
// restated here using apimachinery's shared helpers.)
func ValidateNetworkPolicy(np *networkingv1.NetworkPolicy) error {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	for _, msg := range validation.IsDNS1123Subdomain(np.Name) {
		errs = append(errs, field.Invalid(meta.Child("name"), np.Name, msg))
	}
	for _, msg := range validation.IsDNS1123Label(np.Namespace) {
		errs = append(errs, field.Invalid(meta.Child("namespace"), np.Namespace, msg))
	}
	errs = append(errs, metav1validation.ValidateLabels(np.Labels, meta.Child("labels"))...)

	spec := field.NewPath("spec")
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs = append(errs, metav1validation.ValidateLabelSelector(&np.Spec.PodSelector, opts, spec.Child("podSelector"))...)
	for i, in := range np.Spec.Ingress {
		path := spec.Child("ingress").Index(i)
		errs = append(errs, validatePorts(in.Ports, path.Child("ports"))...)
		errs = append(errs, validatePeers(in.From, path.Child("from"))...)
	}
	for i, out := range np.Spec.Egress {
		path := spec.Child("egress").Index(i)
		errs = append(errs, validatePorts(out.Ports, path.Child("ports"))...)
		errs = append(errs, validatePeers(out.To, path.Child("to"))...)
	}
	for i, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), t, []string{"Ingress", "Egress"}))
		}
	}
	if err := errs.ToAggregate(); err != nil {
		return fmt.Errorf("NetworkPolicy %s/%s is invalid: %w", np.Namespace, np.Name, err)
	}
	return nil
}

func validatePorts(ports []networkingv1.NetworkPolicyPort, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ports {
		at := path.Index(i)
		if p.Protocol != nil {
			switch *p.Protocol {
			case "TCP", "UDP", "SCTP":
			default:
				errs = append(errs, field.NotSupported(at.Child("protocol"), *p.Protocol, []string{"TCP", "UDP", "SCTP"}))
			}
		}
		if p.Port == nil {
			if p.EndPort != nil {
				errs = append(errs, field.Required(at.Child("port"), "must be set when endPort is"))
			}
			continue
		}
		if p.Port.Type != 0 {
			for _, msg := range validation.IsValidPortName(p.Port.StrVal) {
				errs = append(errs, field.Invalid(at.Child("port"), p.Port.StrVal, msg))
			}
			if p.EndPort != nil {
				errs = append(errs, field.Invalid(at.Child("endPort"), *p.EndPort, "may not be set with a named port"))
			}
			continue
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port.IntVal)) {
			errs = append(errs, field.Invalid(at.Child("port"), p.Port.IntVal, msg))
		}
		if p.EndPort != nil {
			for _, msg := range validation.IsValidPortNum(int(*p.EndPort)) {
				errs = append(errs, field.Invalid(at.Child("endPort"), *p.EndPort, msg))
			}
			if *p.EndPort < p.Port.IntVal {
				errs = append(errs, field.Invalid(at.Child("endPort"), *p.EndPort, "must be equal to or greater than port"))
			}
		}
	}
	return errs
}

func validatePeers(peers []networkingv1.NetworkPolicyPeer, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	for i, p := range peers {
		at := path.Index(i)
		set := 0
		if p.PodSelector != nil {
			set++
			errs = append(errs, metav1validation.ValidateLabelSelector(p.PodSelector, opts, at.Child("podSelector"))...)
		}
		if p.NamespaceSelector != nil {
			set++
			errs = append(errs, metav1validation.ValidateLabelSelector(p.NamespaceSelector, opts, at.Child("namespaceSelector"))...)
		}
		if p.IPBlock != nil {
			if set > 0 {
				errs = append(errs, field.Forbidden(at, "may not combine ipBlock with other peer selectors"))
			}
			set++
			errs = append(errs, validateIPBlock(p.IPBlock, at.Child("ipBlock"))...)
		}
		if set == 0 {
			errs = append(errs, field.Required(at, "must specify a peer"))
		}
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return append(errs, field.Invalid(path.Child("cidr"), b.CIDR, err.Error()))
	}
	if cidr.Masked() != cidr {
		errs = append(errs, field.Invalid(path.Child("cidr"), b.CIDR, "must have no host bits set"))
	}
	for i, ex := range b.Except {
		p, err := netip.ParsePrefix(ex)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("except").Index(i), ex, err.Error()))
			continue
		}
		if !cidr.Contains(p.Addr()) || p.Bits() <= cidr.Bits() {
			errs = append(errs, field.Invalid(path.Child("except").Index(i), ex, "must be a strict subset of cidr"))
		}
	}
	return errs
}
