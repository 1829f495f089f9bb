"""The terms of the DSI ontology (``{base}def/dsi#``): one closed list, checked against ontology/dsi.ttl.

Code asks for a term through :class:`kb.namespaces.Names`; a misspelled term raises instead of minting
a new IRI nobody defined (as rdflib's closed namespaces do).
"""

CLASSES = frozenset({
    "Organisation", "Project", "Activity", "Event", "Funding", "Place", "Person",
    "ActivityMembership", "Collaboration", "Submission",
    # network figures (computed, graph/network)
    "Community",
    # concept classes (SKOS concepts of one scheme each)
    "OrganisationType", "OrganisationSize", "ActivityType", "AreaOfSociety", "DSIArea",
    "TechnologyFocus", "TechnologyMethod", "Role", "SupportType", "QualityIssue",
})

PROPERTIES = frozenset({
    # n-ary involvement: membership node -> organisation, project, role
    "organisation", "project", "role", "hasMembership",
    # shortcuts derived from memberships
    "takesPartIn", "leads", "funds", "partnerIn", "evaluates", "advises",
    # collaboration between organisations (derived from shared projects)
    "collaboratesWith", "collaborator", "sharedProjects",
    # classification
    "organisationType", "organisationSize", "activityType", "areaOfSociety", "dsiArea",
    "technologyFocus", "technologyMethod", "supportType",
    # description
    "shortDescription", "socialImpact", "tag", "networkTag", "whoWeHelp", "twitter", "website",
    "startDate", "endDate", "logo",
    # place
    "location", "country", "city", "region",
    "partnerCountry",  # derived from the partner organisations' countries (kb/build/partner_countries.py)
    # funding
    "funder", "fundedProject", "amount", "currency",
    # data quality, lifecycle and provenance
    "qualityIssue", "hidden", "withdrawn", "mergedInto", "legacyId", "source", "consentToList",
    "submittedBy", "status", "reason",
    # network figures (computed from shared projects, graph/network)
    "degree", "betweenness", "community", "bridgesCommunities", "communitySize",
})

TERMS = CLASSES | PROPERTIES
